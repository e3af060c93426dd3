"""What the container's result cache and the gateway both read: keys, entries, the model card, the S3 tier."""
