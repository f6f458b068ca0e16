#!/bin/sh
# Test program that prints a reward that is not finite.
cat > /dev/null
echo "nan"
