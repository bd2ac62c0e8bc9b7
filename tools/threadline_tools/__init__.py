"""Developer tools around the deployed code: the template reader, the local
server, the API key CLI, the OpenAPI generator and the benchmark. Not part of
the Lambda layer."""
