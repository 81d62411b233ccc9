"""Long work (an import, a release, a scoring, a cycle) as background jobs with progress."""
