"""The ambient scribe (issue 25): a consultation's audio or transcript to a draft note whose
every line cites the words that justify it, for a clinician to approve line by line."""
