"""Bulk provisioning of boxes, first boot and enrollment."""
