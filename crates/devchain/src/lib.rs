//! Local Neo N3 chain harness: neo-go from PyPI, single-validator privnet, neo3-boa compile and deploy.
