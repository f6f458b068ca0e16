#!/bin/sh
# Test program whose last line is not a number.
cat > /dev/null
echo "0.5"
echo "garbage"
