"""The reference VNFM's package, importable as its entry point vnfm.py imports it.

examples/reference_vnfm/ is not part of the collection's Python namespace:
vnfm.py finds ``fenix_vnfm`` beside itself, and so do these tests.
"""

import os
import sys

EXAMPLE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples", "reference_vnfm"))

if EXAMPLE not in sys.path:
    sys.path.insert(0, EXAMPLE)
