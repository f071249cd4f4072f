#!/usr/bin/env bash
# Unpack the photos of Debian's tuxpaint-stamps-default package (GPL-2; cut-out photos of animals, fruit, coins,
# vehicles...) into nlexnb's data folder, where nlexnb.datasets.stamp_photo_set() finds them: the labelled zero-shot
# set. The folder is $NLEXNB_DATA, else $XDG_DATA_HOME/nlexnb, else ~/.local/share/nlexnb (as nlexnb._store.data_dir).
# Needs no root: `apt-get download` fetches the .deb into a temporary folder and dpkg-deb unpacks only the PNGs.
# Does nothing when the stamps are installed system-wide or were unpacked before; only warns where there is no apt.
set -euo pipefail
. "$(dirname "$0")/apt_download.sh"
dest="${NLEXNB_DATA:-${XDG_DATA_HOME:-$HOME/.local/share}/nlexnb}/tuxpaint-stamps"
if [ -d /usr/share/tuxpaint/stamps ] || [ -f "$dest/.complete" ]; then
    exit 0
fi
missing="the labelled zero-shot photo set is not installed (tests that need it are skipped); download "
missing+="tuxpaint-stamps from https://tuxpaint.org/download/ and set NLEXNB_STAMPS to its stamps folder"
deb_workdir tuxpaint-stamps-default "$dest" "$missing" || exit 0
mkdir "$work/stamps"
# paths in the package are ./usr/share/tuxpaint/stamps/<category>/...: strip the five leading parts
dpkg-deb --fsys-tarfile "$work"/tuxpaint-stamps-default_*.deb \
    | tar -x -C "$work/stamps" --strip-components=5 --wildcards '*.png'
dpkg-deb -f "$work"/tuxpaint-stamps-default_*.deb Version > "$work/stamps/.version"  # for reports of results
touch "$work/stamps/.complete"
rm -rf "$dest"
mv "$work/stamps" "$dest"
echo "Tux Paint stamp photos unpacked into $dest"
