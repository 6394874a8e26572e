// Package fleettest holds only tests: the whole chart flow (list, vendor,
// use from a template, render) run through the project's renderer, kept
// apart from package charts so that charts' own tests build without it.
package fleettest
