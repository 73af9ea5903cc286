from lightfast.cli import main

main()
