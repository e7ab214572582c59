module github.com/ferry-ftp/ferry

go 1.26.8
