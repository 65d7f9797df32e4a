"""News: "Wist je dat", the composer, civil servants' cards and posters."""
