"""The Milvus and Jupyter images: their recipes, stand-in bases for machines that cannot pull the real
ones (standins.py), the build (build.py) and the push to an SPCS image repository (push.py)."""
