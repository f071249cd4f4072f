#!/usr/bin/env bash
# Unpack the whole (uncut) photos of Debian's gcompris-qt-data package (GCompris's activities: animals of the world
# and of the farm, tools, monuments, castles, ...; Creative Commons, public domain and GPL, credited in the package's
# copyright file) into nlexnb's data folder, where nlexnb.datasets.find_gcompris_photos() finds them: the plausibility
# benchmark's photos of whole scenes, beside the Tux Paint cut-outs. The folder is $NLEXNB_DATA, else
# $XDG_DATA_HOME/nlexnb, else ~/.local/share/nlexnb (as nlexnb._store.data_dir). Needs no root: `apt-get download`
# fetches the .deb (44 MB) into a temporary folder, dpkg-deb unpacks five Qt resource bundles and
# scripts/unpack_qt_resources.py their WebP photos. Does nothing when they were unpacked before; only warns where
# there is no apt.
set -euo pipefail
. "$(dirname "$0")/apt_download.sh"
here="$(cd "$(dirname "$0")" && pwd)"
dest="${NLEXNB_DATA:-${XDG_DATA_HOME:-$HOME/.local/share}/nlexnb}/gcompris-photos"
if [ -f "$dest/.complete" ]; then
    exit 0
fi
PYTHON="${PYTHON:-python3}"
[ -x "$here/../.venv/bin/python" ] && PYTHON="$here/../.venv/bin/python"
missing="GCompris's photos (the plausibility benchmark's whole photos) are not installed (the benchmark and "
missing+="tests that need them skip them); set NLEXNB_GCOMPRIS to a folder unpacked from gcompris-qt-data to use them"
deb_workdir gcompris-qt-data "$dest" "$missing" || exit 0
mkdir "$work/rcc" "$work/photos"
bundles=(categorization details erase explore_farm_animals explore_world_animals)
dpkg-deb --fsys-tarfile "$work"/gcompris-qt-data_*.deb \
    | tar -x -C "$work/rcc" --strip-components=5 $(printf -- './usr/share/gcompris-qt/rcc/%s.rcc ' "${bundles[@]}")
"$PYTHON" "$here/unpack_qt_resources.py" "$work/photos" "$work"/rcc/*.rcc --suffix .webp --quiet
dpkg-deb -f "$work"/gcompris-qt-data_*.deb Version > "$work/photos/.version"  # for reports of results
touch "$work/photos/.complete"
rm -rf "$dest"
mv "$work/photos" "$dest"
echo "GCompris photos ($(find "$dest" -name "*.webp" | wc -l)) unpacked into $dest"
