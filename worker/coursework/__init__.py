"""Coursework: exercises drawn from networks, their questions, and grading with feedback.

Built on the engine (:mod:`worker.engine`), never the other way round: the answer
keys, the slips a wrong answer is matched against, the exercises and their
questions, and the output formats of grading pipelines (Gradescope, JUnit).
"""
