"""The embedding model's vector size, which fixes the pgvector table's column type at first start.

A wrong size makes every insert fail ("expected 768 dimensions, not 1024"), so the size comes from a
table of known Ollama embedding models, or from EMBEDDING_DIMENSIONS for any other model. Sizes are
the model's native output (Ollama sends no `dimensions` option for n8n's or Open WebUI's requests).
"""
from __future__ import annotations

from stack.errors import ConfigError

DEFAULT_EMBEDDING_MODEL = "nomic-embed-text"
# pgvector's HNSW index covers at most 2000 dimensions of type vector (pgvector README, "HNSW").
MAX_INDEXED_DIMENSIONS = 2000

# Ollama library name -> {tag: size}; "*" = every tag. Each size is the upstream model card's.
KNOWN: dict[str, dict[str, int]] = {
    # huggingface nomic-ai/nomic-embed-text-v1.5 model card (768, Matryoshka down to 64)
    "nomic-embed-text": {"*": 768},
    # huggingface mixedbread-ai/mxbai-embed-large-v1 model card (1024)
    "mxbai-embed-large": {"*": 1024},
    # huggingface sentence-transformers/all-MiniLM-L6-v2 (:22m) and all-MiniLM-L12-v2 (:33m): 384
    "all-minilm": {"*": 384},
    # huggingface BAAI/bge-m3 model card ("Dimension: 1024")
    "bge-m3": {"*": 1024},
    # huggingface BAAI/bge-large-en-v1.5 model card (1024)
    "bge-large": {"*": 1024},
    # huggingface sentence-transformers/paraphrase-multilingual-mpnet-base-v2 (768)
    "paraphrase-multilingual": {"*": 768},
    # huggingface Snowflake/snowflake-arctic-embed-l-v2.0 (1024)
    "snowflake-arctic-embed2": {"*": 1024},
    # huggingface google/embeddinggemma-300m model card (768, Matryoshka 512/256/128)
    "embeddinggemma": {"*": 768},
    # huggingface Snowflake/snowflake-arctic-embed-xs/-s (384), -m/-m-long (768), -l (1024);
    # Ollama's latest tag is the 335m (-l) model
    "snowflake-arctic-embed": {"22m": 384, "33m": 384, "110m": 768, "137m": 768, "335m": 1024,
                               "latest": 1024},
    # huggingface ibm-granite/granite-embedding-30m-english (384), -278m-multilingual (768)
    "granite-embedding": {"30m": 384, "278m": 768},
    # huggingface Qwen/Qwen3-Embedding-0.6B (1024); the 4b (2560) and 8b (4096) exceed the index limit
    "qwen3-embedding": {"0.6b": 1024},
}


def split_model(model: str) -> tuple[str, str]:
    """('nomic-embed-text', 'v1.5') from 'library/nomic-embed-text:v1.5'; the tag defaults to latest."""
    name, _, tag = model.strip().partition(":")
    for prefix in ("registry.ollama.ai/library/", "library/"):
        name = name.removeprefix(prefix)
    return name.lower(), (tag or "latest").lower()


def known_dimensions(model: str) -> int | None:
    name, tag = split_model(model)
    sizes = KNOWN.get(name, {})
    return sizes.get(tag, sizes.get("*"))


def is_embedding_model(model: str) -> bool:
    """Ollama names embedding models with 'embed' mostly; the table knows the others (bge-m3...)."""
    return "embed" in model.lower() or split_model(model)[0] in KNOWN


def embedding_dimensions(model: str, setting: str) -> int:
    """The vector size for `model`; EMBEDDING_DIMENSIONS (`setting`, blank = unset) for unknown ones."""
    known = known_dimensions(model)
    chosen = int(setting) if setting else None
    if known is not None and chosen is not None and known != chosen:
        raise ConfigError(f"EMBEDDING_DIMENSIONS={chosen}: {model} gives {known} dimensions; "
                          "leave EMBEDDING_DIMENSIONS blank")
    size = known if known is not None else chosen
    if size is None:
        raise ConfigError(f"EMBEDDING_DIMENSIONS: the size of {model}'s vectors is not known; set it "
                          "(see the model's page, e.g. `ollama show` embedding length)")
    if size > MAX_INDEXED_DIMENSIONS:
        raise ConfigError(f"EMBEDDING_DIMENSIONS: {model} gives {size} dimensions; the vector store's "
                          f"index supports at most {MAX_INDEXED_DIMENSIONS}: choose a smaller embedding model")
    return size
