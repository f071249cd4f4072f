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
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
    echo "note: no apt-get/dpkg-deb here, so the labelled zero-shot photo set is not installed;" \
        "download tuxpaint-stamps from https://tuxpaint.org/download/ and set NLEXNB_STAMPS to its stamps folder" >&2
    exit 0
fi
mkdir -p "$(dirname "$dest")"
work="$(mktemp -d "$(dirname "$dest")/.tuxpaint-stamps.XXXXXX")"
trap 'rm -rf "$work"' EXIT
if ! apt_download tuxpaint-stamps-default "$work"; then
    echo "warning: 'apt-get download tuxpaint-stamps-default' failed; the labelled zero-shot photo set is" \
        "not installed (tests that need it are skipped; set NLEXNB_STAMPS to a stamps folder to use one)" >&2
    exit 0
fi
mkdir "$work/stamps"
# paths in the package are ./usr/share/tuxpaint/stamps/<category>/...: strip the five leading parts
dpkg-deb --fsys-tarfile "$work"/tuxpaint-stamps-default_*.deb \
    | tar -x -C "$work/stamps" --strip-components=5 --wildcards '*.png'
dpkg-deb -f "$work"/tuxpaint-stamps-default_*.deb Version > "$work/stamps/.version"  # for reports of results
touch "$work/stamps/.complete"
rm -rf "$dest"
mv "$work/stamps" "$dest"
echo "Tux Paint stamp photos unpacked into $dest"
