"""URL parameters of the api app's review pages (the exchange page), for the page matrix."""

PARAMS = {"name": lambda cast: "asreview.csv"}

# An export's file name is not an object of a review.
UNSCOPED = {"name"}
