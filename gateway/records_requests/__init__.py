"""Requests to inspect, review or copy a student's records (Ed Code 49065, 49069).

Pure: the due date of a request on the district's calendar and the fee for copies.
No clock, no files; ``config.py`` reads the district's settings into these values.
"""
