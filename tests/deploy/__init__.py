"""Tests of the deployment: compose file, broker config and ACL, images, first set-up."""
