module github.com/ags-client/ags

go 1.22
