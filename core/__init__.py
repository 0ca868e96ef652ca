"""What every domain shares (the bottom layer): text normalisation, ..."""
