"""Traveller galleries: enrolment of a gallery directory into a reusable template file."""
