"""Chapter-specific experiment code: one module per chapter slug (``demos.start_here``, ...).

A chapter calls its demo in one line; the method the paper is about always lives in the library's
layer 2 and is shown in the notebook.
"""
