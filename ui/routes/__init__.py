"""The API's routes, one router per resource; ui/api.py wires them."""
