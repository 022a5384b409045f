module github.com/ags-client/empty

go 1.22
