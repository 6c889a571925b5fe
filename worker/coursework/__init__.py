"""Coursework: exercises drawn from networks, their questions, and grading with feedback.

Built on the engine (:mod:`worker.engine`), never the other way round: the answer
keys, the slips a wrong answer is matched against and an exercise's distractors
(their values), the grading tolerances (PrairieLearn's relabs, sigfig and decdig)
and partial credit, the exercises and their questions, the exports for learning
platforms (Moodle XML, PrairieLearn), and the output formats of grading pipelines
(Gradescope, JUnit).
"""
