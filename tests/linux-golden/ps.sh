ps
