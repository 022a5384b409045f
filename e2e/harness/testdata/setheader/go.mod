module github.com/ags-client/setheader

go 1.22
