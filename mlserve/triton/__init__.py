"""Everything that speaks Triton: model configuration, the embedded server, the client."""
