#!/bin/sh
# Entrypoint of the searxng double, behaving like the image's container/entrypoint.sh
# (searxng/searxng @ 9fea41204, lines 72-107): it runs as root; the config folder and the data folder
# must be directories (else exit 127); a folder not owned by searxng:searxng is chowned -R when
# FORCE_OWNERSHIP is true (the default) and we are root, else a WARNING is printed; when
# $__SEARXNG_CONFIG_PATH/settings.yml is missing, one is created from the template with a random
# secret. A failing chown (a read-only mount) prints chown's error and start-up goes on (no set -e).
set -u
for folder in "$__SEARXNG_CONFIG_PATH" "$__SEARXNG_DATA_PATH"; do
	if [ ! -d "$folder" ]; then
		printf '!!!\n!!! ERROR\n!!! "%s" is not a valid directory, exiting...\n!!!\n' "$folder"
		exit 127
	fi
	owner=$(stat -c %U:%G "$folder")
	if [ "$owner" != "searxng:searxng" ]; then
		if [ "${FORCE_OWNERSHIP:-true}" = true ] && [ "$(id -u)" -eq 0 ]; then
			chown -R searxng:searxng "$folder"
		else
			printf '!!!\n!!! WARNING\n!!! "%s" directory is not owned by "searxng:searxng"\n!!!\n' "$folder"
		fi
	fi
done
target="$__SEARXNG_CONFIG_PATH/settings.yml"
if [ ! -f "$target" ]; then
	printf '...\n... INFORMATION\n... "%s" does not exist, creating from template...\n...\n' "$target"
	secret=$(head -c 24 /dev/urandom | base64 | tr -dc 'a-zA-Z0-9')
	sed "s/ultrasecretkey/$secret/" /usr/local/searxng/settings.template.yml > "$target"
fi
export PYTHONPATH=/opt/double
exec python3 /opt/double/searxng/double.py "$@"
