"""CorRELAX research-book library: all compute behind the notebooks.

Folders say what happens to the data: ``io`` reads, ``data`` describes datasets,
``preprocess`` prepares images, ``viz`` draws, ``book`` builds the book.
"""

__version__ = "0.1.0"
