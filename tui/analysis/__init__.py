"""Analysis: the success criteria and the judge that decides pass / fail / no data."""
