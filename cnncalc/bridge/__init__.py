"""The only place that imports torch: build the equivalent module, verify against it."""
