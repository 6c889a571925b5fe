"""The ``celery -A service.make_celery`` target: the Celery app of the Flask app."""

from service import create_app

celery_app = create_app().extensions["celery"]
