"""Policy answers: the corpus of the policy document, retrieval and cited replies."""
