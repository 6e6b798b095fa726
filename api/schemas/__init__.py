"""Request and response bodies, one module per noun as in api/routes/; shared bases in `base`."""
