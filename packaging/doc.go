// Package packaging holds lvsgen's .deb and .rpm: nfpm.yaml describes
// them, scripts/ holds their maintainer scripts, and scripts/package.sh
// (`make package`) builds them. It has no Go code of its own: its test
// builds the packages, reads them back with dpkg-deb and rpm, installs the
// .deb into a scratch root and checks the systemd units.
package packaging
