"""The one implementation of the demo's search logic; the notebook and every suite import it."""

from milvus_spcs.search.collection import (
    DimensionMismatch as DimensionMismatch,
)
from milvus_spcs.search.collection import (
    Hit as Hit,
)
from milvus_spcs.search.demo import DEFAULT_COLLECTION as DEFAULT_COLLECTION
from milvus_spcs.search.demo import DemoResult as DemoResult
from milvus_spcs.search.demo import run_demo as run_demo
from milvus_spcs.search.documents import GUIDE_DOCUMENTS as GUIDE_DOCUMENTS
from milvus_spcs.search.documents import GUIDE_QUERY as GUIDE_QUERY
from milvus_spcs.search.documents import Document as Document
from milvus_spcs.search.embedder import Embedder as Embedder
from milvus_spcs.search.embedder import default_embedder as default_embedder
