#!/bin/sh
set -eu
echo "hello <world> & friends"   

	tabbed
