"""placement-matching: decision support for placing children in care with foster carers.

The library never imports FastAPI; the web service in ``api/`` is a thin layer over it.
"""

__version__ = "0.1.0"
