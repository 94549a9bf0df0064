from warmline.cli import main

main()
