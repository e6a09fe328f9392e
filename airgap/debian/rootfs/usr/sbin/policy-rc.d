#!/bin/sh
# Packages installed while building an image must not try to start their daemons.
exit 101
