"""Sample data and models: what ``mlserve up`` publishes on an empty repository."""
