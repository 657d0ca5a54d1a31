"""Moving reviews in from and out to other tools (ASReview, Rayyan, Covidence, RevMan)."""
