"""Layer 3, maps: vectors -> a layout to look at, and search by example.

- ``scaling``: put vector dimensions on a common scale (used by layouts, search, the model).
- ``layout``: UMAP/PCA fitted on raw+train+dev, test placed; layouts stored on disk.
- ``search``: cosine similarity of every row to a query (rows, a key, a new file, a vector).

Works on matrices and key lists; knows nothing of tables or labels.
"""
