"""Batch work across processes on the broker's work queues (issue 13): a big gallery
enrolment split into chunks that any number of ``bordermatch batch worker`` processes take."""
