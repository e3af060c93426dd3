"""What the container's result cache and the gateway both read: keys, entries, the model card, the S3 tier."""

# The container's setting that names the shared S3 tier (and where the model card is written);
# deploy checks that a gateway has one.
CACHE_S3_SETTING = "SDXL_CACHE_S3_URI"
