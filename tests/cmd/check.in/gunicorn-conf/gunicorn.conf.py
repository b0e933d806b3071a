# Left over from running gunicorn by hand.
workers = 4
daemon = True
