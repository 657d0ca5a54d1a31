"""Published versions of a review: frozen snapshots, their list and their comparison."""
