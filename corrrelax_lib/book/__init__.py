"""Build the research book: profiles, notebook execution with papermill, Jupyter Book."""
